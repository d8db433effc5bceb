Feature: One account by its id
  GET /accounts/{id} returns one account of the caller's organization (DPaaS API
  reference, accounts). An id the caller's organization does not have gets 404,
  whether it never existed or belongs to another organization, and the owner of
  another organization's account finds it unchanged (tenants are isolated).

  @must @ACC-7
  Scenario: An account is read by its id, as the list shows it
    Given the admin user is logged in
    And they have created 1 account
    When they get the account they created
    Then the response status is 200
    And the response body is an account
    And the account read is the one the list shows

  @must @ACC-7
  Scenario: A user who may list accounts may read one by its id
    Given the admin user is logged in
    And they have created 1 account
    And the limited user is logged in
    When they get the account the admin user created
    Then the response status is 200
    And the account read is the one the list shows

  @must @ACC-8 @ERR-7
  Scenario Outline: <method> of an account id that never existed is 404 with a JSON error
    Given the admin user is logged in
    And they have created 1 account
    When they <method> an account id that never existed
    Then the response is 404 with a JSON error body

    Examples:
      | method |
      | GET    |
      | PUT    |
      | PATCH  |
      | DELETE |

  @should @ACC-8
  Scenario Outline: <method> of an account id that never existed is a "NotFound" error
    Given the admin user is logged in
    And they have created 1 account
    When they <method> an account id that never existed
    Then the response is a "NotFound" error with status 404

    Examples:
      | method |
      | GET    |
      | PUT    |
      | PATCH  |
      | DELETE |

  @must @ACC-8 @ACC-9 @ERR-7
  Scenario Outline: <method> of another organization's account is 404 and changes nothing
    Given the other user is logged in
    And they have created 1 account
    And the admin user is logged in
    When they <method> the account the other user created
    Then the response is 404 with a JSON error body
    And the answer carries no field of the account the other user created
    And the other user reads the account they created unchanged

    Examples:
      | method |
      | GET    |
      | PUT    |
      | PATCH  |
      | DELETE |

  @should @ACC-9
  Scenario Outline: <method> of another organization's account is answered as an id that never existed
    Given the other user is logged in
    And they have created 1 account
    And the admin user is logged in
    When they <method> the account the other user created, and an id of its shape that never existed
    Then both answers have the same status, error and header names

    Examples:
      | method |
      | GET    |
      | PUT    |
      | PATCH  |
      | DELETE |
