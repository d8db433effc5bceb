Feature: Creating accounts
  An administrator creates an account with a name and, optionally, whether it
  is the default and some metadata ("Your First API Call", step 3).

  Background:
    Given the admin user is logged in

  @must @ACC-2 @ACC-6
  Scenario: Creating an account returns it, active, in the caller's organization
    Given they have counted their organization's accounts
    When they create an account with a new name and "is_default" set to false
    Then the response body is an account
    And the account has the name and "is_default" that were sent, and is active
    And the account belongs to the same organization as their other accounts
    And the account is listed and the total has grown

  @should @ACC-2
  Scenario: Creating an account answers 201 Created
    When they create an account with a new name and "is_default" set to false
    Then the response status is 201

  @must @ACC-6
  Scenario: Listed accounts carry every documented field
    Given their organization has at least 2 accounts
    When they list accounts
    Then the response status is 200
    And the response body is a list of accounts

  @should @ACC-6
  Scenario: An account carries its metadata and UTC timestamps written with Z
    When they create an account with a new name and the metadata {"team": "platform", "tier": 2}
    Then the response status is a success
    And the account's metadata is {"team": "platform", "tier": 2}
    And the account's timestamps end in "Z"

  @must @ACC-3 @ERR-0
  Scenario: Creating an account without a name is a validation error
    When they create an account from the body {"is_default": false}
    Then the response is a "ValidationError" error with status 422
    And the error details name "name"

  @must @ACC-3 @ERR-0
  Scenario Outline: Creating an account with a wrongly typed <field> is a validation error
    When they create an account from the body <body>
    Then the response is a "ValidationError" error with status 422
    And the error details name "<field>"

    Examples:
      | field      | body                                   |
      | name       | {"name": 5}                            |
      | name       | {"name": null}                         |
      | is_default | {"name": "Typed", "is_default": "yes"} |

  @must @ACC-4
  Scenario Outline: A client cannot choose an account's <field>
    When they create an account with a new name and "<field>" set to <value>
    Then the "<field>" they sent was refused or ignored
    And the account they sent, if it was created, does not have "<field>" set to <value>

    Examples:
      | field           | value                                  |
      | id              | "acc-chosen-by-the-client"             |
      | organization_id | "org-chosen-by-the-client"             |
      | created_at      | "2001-01-01T00:00:00Z"                 |
      | updated_at      | "2001-01-01T00:00:00Z"                 |

  @must @ACC-5 @ERR-0
  Scenario: A user without permission to create accounts is forbidden
    Given the limited user is logged in
    When they create an account with a new name and "is_default" set to false
    Then the response is a "Forbidden" error with status 403

  @must @ACC-5
  Scenario: A user without permission to create accounts may still list them
    Given the limited user is logged in
    When they list accounts
    Then the response status is 200
    And the response body is a list of accounts
