Feature: Refreshing tokens
  A refresh token buys a new access token and a new refresh token, and the one
  that was sent becomes invalid ("Your First API Call", refreshing your token).

  @must @AUTH-8 @AUTH-10
  Scenario: Refreshing returns a new pair of tokens that both work
    Given the admin user is logged in
    When they refresh their token
    Then the response body is a token response
    And the new refresh token differs from the one sent
    And the new access token lets them list accounts
    And the new refresh token can be refreshed once more

  @should @AUTH-6
  Scenario: A refresh response is never cached
    Given the admin user is logged in
    When they refresh their token
    Then the response status is 200
    And the response header "Cache-Control" includes "no-store"

  @must @AUTH-9
  Scenario: A refresh token works only once
    Given the admin user is logged in
    And they have refreshed their token
    When they refresh with their previous refresh token
    Then the response is a client error with a JSON error body
    And the response carries no token

  @should @AUTH-9
  Scenario: A used refresh token is refused as unauthorized
    Given the admin user is logged in
    And they have refreshed their token
    When they refresh with their previous refresh token
    Then the response is a "Unauthorized" error with status 401

  @must @AUTH-11
  Scenario Outline: An unknown or malformed refresh token is refused
    When someone refreshes with the refresh token <token>
    Then the response is a client error with a JSON error body
    And the response carries no token

    Examples:
      | token                  |
      | "an unknown one"       |
      | a random unknown token |
      | ""                     |
      | 42                     |

  @should @AUTH-11
  Scenario: An unknown refresh token is refused as unauthorized
    When someone refreshes with the refresh token a random unknown token
    Then the response is a "Unauthorized" error with status 401

  @must @AUTH-11 @ERR-0
  Scenario: A refresh without a refresh token is a validation error
    When someone refreshes without a refresh token
    Then the response is a "ValidationError" error with status 422
    And the error details name "refresh_token"

  @should @AUTH-12
  Scenario: Reusing a rotated refresh token revokes the whole family
    Given the admin user is logged in
    And they have refreshed their token
    When they refresh with their previous refresh token
    And they refresh their token
    Then the response is a client error with a JSON error body
    And the response carries no token

  @should @AUTH-13
  Scenario: Of several concurrent refreshes with one token, exactly one wins
    Given the admin user is logged in
    When they refresh their token 5 times at once
    Then exactly 1 of those refreshes succeeds and none fails with a server error
